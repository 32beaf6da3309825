function adjudicate(c)
  local t = {5, 3, 9, 1}
  table.sort(t, function(a, b) return a > b end)
  table.insert(t, 2, 7)
  local r = table.remove(t)
  return {table.concat(t, ","), r, select('#', 1, 2, 3), table.unpack({1, 2}), type(c), math.type(3)}
end
