function adjudicate(c)
  local ok, err = pcall(function() return c.lines[1].missing.field end)
  if not ok then error("line " .. c.lines[1].line .. " has no field: " .. tostring(err)) end
  return ok
end
