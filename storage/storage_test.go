package storage_test

import (
	"testing"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

func TestSQLite(t *testing.T) {
	storagetest.RunConformance(t, func(t *testing.T) *storage.Store { return storagetest.OpenSQLite(t) })
}

func TestMySQL(t *testing.T) {
	storagetest.SkipWithoutMySQL(t)
	storagetest.RunConformance(t, func(t *testing.T) *storage.Store { return storagetest.OpenMySQL(t) })
}
