-- promote and abort apply to a canary in progress; rollback to a deployment with a former stable version.
local actions = {}
local status = obj.status or {}
local rolling = status.canaryVersion ~= nil and status.canaryVersion ~= ""
local previous = status.previousStableVersion ~= nil and status.previousStableVersion ~= ""
actions["promote"] = { ["disabled"] = not rolling, ["iconClass"] = "fa fa-fw fa-forward" }
actions["abort"] = { ["disabled"] = not rolling, ["iconClass"] = "fa fa-fw fa-stop" }
actions["rollback"] = { ["disabled"] = not (rolling or previous), ["iconClass"] = "fa fa-fw fa-undo" }
return actions
