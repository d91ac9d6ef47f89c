package storage_test

import (
	"os"
	"testing"

	"github.com/latchkey/latchkey/storage"
	"github.com/latchkey/latchkey/storage/storagetest"
)

func TestSQLite(t *testing.T) {
	storagetest.RunConformance(t, func(t *testing.T) *storage.Store { return storagetest.OpenSQLite(t) })
}

func TestMySQL(t *testing.T) {
	if os.Getenv(storagetest.MySQLDSNEnv) == "" {
		t.Skip(storagetest.MySQLDSNEnv + " not set")
	}
	storagetest.RunConformance(t, func(t *testing.T) *storage.Store { return storagetest.OpenMySQL(t) })
}
