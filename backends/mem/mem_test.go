package mem_test

import (
	"testing"

	"github.com/cairn-backup/cairn/backends"
	"github.com/cairn-backup/cairn/backends/backendtest"
	"github.com/cairn-backup/cairn/backends/mem"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(*testing.T) backends.Backend { return mem.New() })
}
