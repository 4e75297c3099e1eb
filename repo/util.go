package repo

import (
	"crypto/rand"
	"encoding/json"

	"github.com/cairn-backup/cairn/repo/id"
)

func randomID() id.ID {
	var i id.ID
	if _, err := rand.Read(i[:]); err != nil {
		panic(err)
	}
	return i
}

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
