function adjudicate(claim, member, plan)
  local out = {}
  for _, l in ipairs(claim.lines) do
    if l.decision ~= 'deny' and l.units > (plan.unitsPerDay[l.code] or 2) then
      out[#out + 1] = {line = l.line, decision = 'pend', reason = 'more units than a day allows'}
    elseif l.decision ~= 'deny' and l.billedCents > 3 * l.allowedCents then
      out[#out + 1] = {line = l.line, decision = 'deny', reason = 'billed over 3x allowed', carc = '45'}
    end
  end
  return out
end
