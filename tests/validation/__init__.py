"""Tests of mloop.local.apiserver.validation: structural schemas, defaulting, pruning and CEL."""
