-- Argo CD health of an mloop ModelVersion: a failed gate (stage rejected, Validated=False) is Degraded;
-- a version that passed the gate and waits for mloop.io/approved-by is Suspended.
local function condition(ctype)
  for _, c in ipairs((obj.status or {}).conditions or {}) do
    if c.type == ctype then return c end
  end
  return nil
end
local function describe(c)
  return (c.reason or "") .. ": " .. (c.message or "")
end

local hs = { status = "Progressing", message = "Waiting for the mloop operator" }
if obj.status == nil then return hs end
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and (observed == nil or observed < generation) then
  hs.message = "The operator has not yet observed generation " .. generation
  return hs
end
local stage = obj.status.stage
local validated = condition("Validated")
local approved = condition("Approved")
local ready = condition("Ready")
if stage == "rejected" or (validated ~= nil and validated.status == "False") then
  hs.status = "Degraded"
  hs.message = validated ~= nil and describe(validated) or "Rejected by the gate"
  return hs
end
if stage == "candidate" and validated ~= nil and validated.status == "True"
    and approved ~= nil and approved.status == "False" and approved.reason == "AwaitingApproval" then
  hs.status = "Suspended"
  hs.message = describe(approved)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = "Stage: " .. (stage or "candidate")
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
if ready ~= nil then hs.message = describe(ready) end
return hs
