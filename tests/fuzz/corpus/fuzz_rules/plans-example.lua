-- Deny cosmetic codes; pend lab lines billed at over three times the
-- allowed amount. Lines not named keep the plan's decision.
local COSMETIC = {["15780"] = true, ["15781"] = true}

function adjudicate(claim, member, plan)
  local decisions = {}
  for _, line in ipairs(claim.lines) do
    if line.decision == "deny" then
      -- already denied by the plan: a rule cannot approve it
    elseif COSMETIC[line.code] then
      decisions[#decisions + 1] = {line = line.line, decision = "deny",
                                   reason = "cosmetic procedure", carc = "96"}
    elseif line.category == "lab" and line.billedCents > 3 * line.allowedCents then
      decisions[#decisions + 1] = {line = line.line, decision = "pend",
        reason = string.format("billed %d cents, over 3x the %d allowed",
                               line.billedCents, line.allowedCents)}
    end
  end
  return decisions
end
