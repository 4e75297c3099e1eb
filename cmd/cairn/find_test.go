package main

import "testing"

func TestFindScript(t *testing.T) { runBrowseScript(t, "find.txtar") }
