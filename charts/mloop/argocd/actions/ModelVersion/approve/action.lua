-- Approve a candidate (promotion policy manual): the operator records who and when in status.approval.
-- Argo CD does not pass the user to Lua; its audit log names who ran the action.
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
obj.metadata.annotations["mloop.io/approved-by"] = "argocd"
return obj
