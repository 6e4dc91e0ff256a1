-- Argo CD health of an mloop ModelDeployment: a rollback (Degraded=True) is Degraded; a rollout paused for
-- manual approval (status.awaitingApproval) is Suspended; a canary in progress is Progressing.
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
local degraded = condition("Degraded")
local progressing = condition("Progressing")
local ready = condition("Ready")
if degraded ~= nil and degraded.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(degraded)
  return hs
end
if obj.status.awaitingApproval == true then
  hs.status = "Suspended"
  hs.message = "Canary " .. (obj.status.canaryVersion or "?") .. " awaits mloop.io/promote"
  return hs
end
if progressing ~= nil and progressing.status == "True" then
  hs.message = describe(progressing)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = "Serving " .. (obj.status.stableVersion or "?")
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
if ready ~= nil then hs.message = describe(ready) end
return hs
