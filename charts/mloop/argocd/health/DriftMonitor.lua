-- Argo CD health of an mloop DriftMonitor: drift detected (Drifted=True) is Degraded.
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
local drifted = condition("Drifted")
local ready = condition("Ready")
if drifted ~= nil and drifted.status == "True" then
  local names = {}
  for _, f in ipairs(obj.status.driftedFeatures or {}) do table.insert(names, f.name) end
  hs.status = "Degraded"
  hs.message = "Drift in " .. (#names > 0 and table.concat(names, ", ") or "the last window")
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "No drift"
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
if ready ~= nil then hs.message = describe(ready) end
return hs
