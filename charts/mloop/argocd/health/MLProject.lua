-- Argo CD health of an mloop MLProject: Ready=True is Healthy, Ready=False is Degraded.
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
if ready == nil or ready.status == "Unknown" then
  if ready ~= nil then hs.message = describe(ready) end
  return hs
end
if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = "Champion: " .. (obj.status.champion or "none yet")
else
  hs.status = "Degraded"
  hs.message = describe(ready)
end
return hs
