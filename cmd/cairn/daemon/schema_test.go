package daemon

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

const schemaURL = "https://github.com/cairn-backup/cairn/cmd/cairn/daemon/cairn.schema.json"

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(schemaURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSON reads YAML as a JSON Schema validator sees it: YAML to plain
// Go values (anchors and merge keys resolved), to JSON, to the validator's
// own representation.
func yamlToJSON(t *testing.T, y string) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal([]byte(y), &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSchemaAcceptsValidConfigs(t *testing.T) {
	s := compileSchema(t)
	if err := s.Validate(yamlToJSON(t, string(Example))); err != nil {
		t.Errorf("example: %v", err)
	}
	for name, y := range validConfigs {
		if err := s.Validate(yamlToJSON(t, y)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSchemaAndParseReject checks configs that both the schema and Parse
// refuse. Parse refuses more (repeated names, empty policies, schedules
// that never fire...): TestParseErrors covers those.
func TestSchemaAndParseReject(t *testing.T) {
	s := compileSchema(t)
	const r = "repository: /r\n"
	src := func(fields string) string { return r + "sources:\n- {name: a, " + fields + "}\n" }
	for _, tc := range []struct{ name, yaml, parseErr string }{
		{"no repository", "host: a\n", "repository: is required"},
		{"relative repository", "repository: srv\n", "absolute path"},
		{"unknown key", r + "hots: a\n", `unknown key "hots"`},
		{"unknown nested key", r + "mount: {path: /m, alow_other: true}\n", `unknown key "alow_other"`},
		{"string for int", r + "concurrency: two\n", "want an integer"},
		{"int for bool", r + "s3_virtual_host: 1\n", "want true or false"},
		{"int for string", r + "host: 12\n", "want a string"},
		{"concurrency 0", r + "concurrency: 0\n", "must be at least 1"},
		{"negative connections", r + "connections: -1\n", "must be at least 0"},
		{"negative uid", r + "allow_uids: [-1]\n", "must be at least 0"},
		{"negative limit", r + "limit_requests: -1\n", "must not be negative"},
		{"bad limit_bytes", r + "limit_bytes: fast\n", "is not a size"},
		{"relative socket", r + "socket: cairn.sock\n", "absolute path"},
		{"bad duration", r + "stop_timeout: 5x\n", "unknown unit"},
		{"duration without unit", r + "stop_timeout: 10\n", "missing unit"},
		{"source without name", r + "sources: [{paths: [/a]}]\n", "needs a name"},
		{"bad source name", r + "sources: [{name: a/b, paths: [/a]}]\n", "not a source name"},
		{"paths and command", src("paths: [/a], command: [x]"), "not both"},
		{"neither paths nor command", src("tags: [x]"), "needs paths"},
		{"relative path", src("paths: [a]"), "absolute path"},
		{"stdin_name with paths", src("paths: [/a], stdin_name: x"), "only applies to a source with a command"},
		{"exclude with command", src("command: [x], exclude: ['*.o']"), "only applies to a source with paths"},
		{"empty command", src("command: ''"), "empty command"},
		{"empty argv", src("command: []"), "empty command"},
		{"bad schedule", src("paths: [/a], schedule: every day"), "schedule"},
		{"cron with 4 fields", src("paths: [/a], schedule: '0 3 * *'"), "schedule"},
		{"@every", src("paths: [/a], schedule: '@every 1h'"), "write the interval alone"},
		{"tag with comma", src("paths: [/a], tags: ['a,b']"), "not a tag"},
		{"hook without command", src("paths: [/a], before: [{timeout: 1m}]"), "needs a command"},
		{"hook as string", src("paths: [/a], after: [logger]"), "want a mapping"},
		{"empty retention", src("paths: [/a], retention: {}"), "without any keep_* rule"},
		{"bad count", src("paths: [/a], retention: {keep_daily: -2}"), "not a count"},
		{"week in keep_within", src("paths: [/a], retention: {keep_within: 1w}"), "keep_within"},
		{"bare months in keep_within", src("paths: [/a], retention: {keep_within_daily: 1m}"), `"1m": m is months in keep_within, as in restic, not minutes as elsewhere in this file; to keep the two apart, months go with years: write 0y1m for a calendar month, or 30d`},
		{"minutes-looking keep_within", src("paths: [/a], retention: {keep_within: 12h30m}"), "write 0y6m for six calendar months, or 180d"},
		{"six months in keep_within", src("paths: [/a], retention: {keep_within: 6m}"), "write 0y6m for 6 calendar months, or 180d"},
		{"bad ping url", src("paths: [/a], ping_url: 'ftp://x'"), "not an http or https URL"},
		{"bad subset", r + "check: {read_data_subset: 200MiB}\n", "subset"},
		{"mount without path", r + "mount: {allow_other: true}\n", "is required"},
		{"relative mount", r + "mount: {path: mnt}\n", "absolute path"},
		{"public metrics", r + "metrics: {listen: '0.0.0.0:9473'}\n", "loopback"},
		{"metrics without port", r + "metrics: {listen: localhost}\n", "host:port"},
		{"copy without repository", r + "copies: [{name: c, password_file: /p}]\n", "copies[0] (c).repository: is required"},
		{"copy without password", r + "copies: [{name: c, repository: /c}]\n", "needs password_file or password_command"},
		{"copy with both passwords", r + "copies: [{name: c, repository: /c, password_file: /p, password_command: x}]\n", "exclude each other"},
		{"copy without name", r + "copies: [{repository: /c, password_file: /p}]\n", "a copy needs a name"},
		{"bad copy name", r + "copies: [{name: 'a/b', repository: /c, password_file: /p}]\n", "not a copy name"},
		{"relative copy repository", r + "copies: [{name: c, repository: c, password_file: /p}]\n", "absolute path"},
		{"relative copy password file", r + "copies: [{name: c, repository: /c, password_file: p}]\n", "absolute path"},
		{"unknown copy key", r + "copies: [{name: c, repository: /c, password_file: /p, retention: true}]\n", `unknown key "retention"`},
		{"copy storage", r + "copies: [{name: c, repository: /c, password_file: /p, retries: -1}]\n", "must be at least 0"},
		{"copy apply_retention not a bool", r + "copies: [{name: c, repository: /c, password_file: /p, apply_retention: yes please}]\n", "want true or false"},
		{"copy_to not a list", r + "copies: [{name: c, repository: /c, password_file: /p}]\ncopy_to: c\n", "want a list"},
		{"copy_to twice the same", r + "copies: [{name: c, repository: /c, password_file: /p}]\ncopy_to: [c, c]\n", "named twice"},
		{"source copy_to not a list", r + "copies: [{name: c, repository: /c, password_file: /p}]\nsources: [{name: a, paths: [/a], copy_to: c}]\n", "want a list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Validate(yamlToJSON(t, tc.yaml)); err == nil {
				t.Error("the schema accepts it")
			}
			_, err := Parse("c.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.parseErr) {
				t.Errorf("Parse: %v; want %q", err, tc.parseErr)
			}
		})
	}
}

// TestSchemaKeysMatchConfig walks Config's yaml tags and the schema's
// properties side by side: a key in one and not the other fails.
func TestSchemaKeysMatchConfig(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(Schema, &root); err != nil {
		t.Fatal(err)
	}
	defs, _ := root["$defs"].(map[string]any)
	// object finds the object schema that a property's schema describes,
	// through $ref, array items and alternatives.
	var object func(s map[string]any) map[string]any
	object = func(s map[string]any) map[string]any {
		if ref, ok := s["$ref"].(string); ok {
			d, _ := defs[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
			if d == nil {
				t.Fatalf("dangling $ref %s", ref)
			}
			return object(d)
		}
		if _, ok := s["properties"]; ok {
			return s
		}
		if it, ok := s["items"].(map[string]any); ok {
			return object(it)
		}
		return nil
	}
	var walk func(path string, typ reflect.Type, s map[string]any)
	walk = func(path string, typ reflect.Type, s map[string]any) {
		props, _ := s["properties"].(map[string]any)
		if props == nil {
			t.Errorf("%s: the schema has no properties for %s", path, typ)
			return
		}
		if s["additionalProperties"] != false {
			t.Errorf("%s: the schema allows additional properties", path)
		}
		fields := yamlFields(typ)
		var inGo, inSchema []string
		for k := range fields {
			inGo = append(inGo, k)
		}
		for k := range props {
			inSchema = append(inSchema, k)
		}
		sort.Strings(inGo)
		sort.Strings(inSchema)
		for _, k := range inGo {
			if !slices.Contains(inSchema, k) {
				t.Errorf("%s%s: in %s but not in the schema", path, k, typ)
			}
		}
		for _, k := range inSchema {
			ps, _ := props[k].(map[string]any)
			if d, _ := ps["description"].(string); d == "" {
				t.Errorf("%s%s: no description in the schema", path, k)
			}
			i, ok := fields[k]
			if !ok {
				t.Errorf("%s%s: in the schema but not in %s", path, k, typ)
				continue
			}
			ft := typ.Field(i).Type
			for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				sub := object(ps)
				if sub == nil {
					t.Errorf("%s%s: %s is a struct, the schema no object", path, k, ft)
					continue
				}
				walk(path+k+".", ft, sub)
			}
		}
	}
	walk("", reflect.TypeFor[Config](), root)
}
