function adjudicate(c, m, p)
  local code = c.diagnoses[1]
  return {code:match('^E11%.%d+$') ~= nil, (('a,b,c'):gsub(',', ';')), code:sub(2, 3), code:upper(),
    string.format('%s=%d %5.5s %q', 'n', 42, code, code), code:find('.', 1, true), code:byte(1),
    string.char(72, 105), ('x'):rep(3, '-'), tostring(7), tonumber('12'), math.max(3, 9), 7 // 2, 7 % 3,
    -7 // 2, 1 << 62, ~5, 3 & 6 | 1 ~ 8, utf8 and utf8.char(233) or false}
end
