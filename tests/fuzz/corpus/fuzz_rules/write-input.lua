function adjudicate(c, m, p)
  c.lines[1].decision = 'approve'
  return c
end
