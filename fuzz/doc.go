// Package fuzz holds the fuzz targets over every parser of repository
// bytes: pack trailers and headers, stored blobs, tree blobs and nodes,
// index segments, deletion marks, the config, key files, snapshot and lock
// objects.
//
// # Running
//
// `go test ./fuzz` runs every target over its seed corpus (the f.Add seeds
// and testdata/fuzz/<Target>/), as a regression test. `fuzz/run.sh` fuzzes
// each target in turn for $FUZZTIME (default 30s); `make fuzz` calls it.
// Crashers the fuzzer finds land in testdata/fuzz/<Target>/ and stay there
// as seeds once the bug is fixed.
//
// # Seeds
//
// Seeds are built from real encoded objects under a fixed test key. To
// rewrite the seed files in testdata after a format change:
//
//	go test ./fuzz -run . -update-corpus
//
// # Checks
//
// Every target checks that its parser does not panic, does not allocate
// far more than its input calls for, and, where an encoder exists, that
// what it decodes encodes back to something that decodes the same.
//
// The package imports only repo, its subpackages and index. Targets that
// need a backend to hold bytes (config, stored objects) use the in-memory
// backend of repo.TestRepository through Repository.Backend.
package fuzz
