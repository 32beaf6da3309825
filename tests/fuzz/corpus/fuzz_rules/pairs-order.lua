function adjudicate(claim, member, plan)
  local t, keys = {}, {}
  for k, v in pairs(claim) do t[#t + 1] = k end
  for k, v in pairs(plan.unitsPerDay) do keys[k .. "!"] = v * 2 end
  local s = ""
  for k, v in pairs(keys) do s = s .. k .. "=" .. v .. ";" end
  return {t, s, keys, claim.extra, #claim.lines, member.planYear}
end
