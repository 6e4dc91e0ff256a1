-- Ask the operator to promote: it acts on the annotation, records the result in status.history, never the spec.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["mloop.io/promote"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
