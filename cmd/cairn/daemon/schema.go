package daemon

import _ "embed"

// Schema is the JSON Schema (draft 2020-12) of the config file. Parse
// checks everything it does, and more (unique source names, policies that
// keep something, schedules that fire...).
//
//go:embed cairn.schema.json
var Schema []byte

// Example is a commented config using every feature; Parse accepts it.
//
//go:embed cairn.example.yaml
var Example []byte
