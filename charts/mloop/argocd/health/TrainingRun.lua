-- Argo CD health of an mloop TrainingRun: Failed is Degraded, Pending/Running are Progressing.
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
local ready = condition("Ready")
local phase = obj.status.phase
if phase == "Failed" or (ready ~= nil and ready.status == "False") then
  hs.status = "Degraded"
  hs.message = ready ~= nil and describe(ready) or "The training run failed"
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = "Trained: " .. (obj.status.modelVersion or "no model version yet")
  return hs
end
hs.message = (phase or "Pending") .. (ready ~= nil and (" - " .. describe(ready)) or "")
return hs
