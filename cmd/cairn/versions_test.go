package main

import "testing"

func TestVersionsScript(t *testing.T) { runBrowseScript(t, "versions.txtar") }
