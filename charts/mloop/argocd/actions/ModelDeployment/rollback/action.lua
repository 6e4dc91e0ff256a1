-- Ask the operator to rollback: it acts on the annotation, records the result in status.history, never the spec.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["mloop.io/rollback"] = os.date("!%Y-%m-%dT%H:%M:%SZ")
return obj
