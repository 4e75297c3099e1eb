package repo

import (
	"crypto/rand"

	"github.com/cairn-backup/cairn/repo/id"
)

func randomID() id.ID {
	var i id.ID
	if _, err := rand.Read(i[:]); err != nil {
		panic(err)
	}
	return i
}
