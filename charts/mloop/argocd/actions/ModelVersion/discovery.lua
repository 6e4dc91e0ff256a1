-- approve applies to a candidate that passed the gate and waits for manual approval.
local actions = {}
local awaiting = false
local status = obj.status or {}
for _, c in ipairs(status.conditions or {}) do
  if c.type == "Approved" and c.status == "False" and c.reason == "AwaitingApproval" then awaiting = true end
end
actions["approve"] = { ["disabled"] = not (awaiting and status.stage == "candidate"), ["iconClass"] = "fa fa-fw fa-check" }
return actions
