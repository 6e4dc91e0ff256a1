-- retrain is always available; the operator honours the project's maxConcurrentRuns.
local actions = {}
actions["retrain"] = { ["disabled"] = false, ["iconClass"] = "fa fa-fw fa-redo" }
return actions
