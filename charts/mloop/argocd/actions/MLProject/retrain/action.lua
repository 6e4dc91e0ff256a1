-- Ask for a new TrainingRun (trigger manual): the operator creates one per distinct annotation value.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["mloop.io/retrain"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
