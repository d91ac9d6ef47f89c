package server_test

import (
	"testing"

	"github.com/latchkey/latchkey/storage/storagetest"
)

// TestMain runs the tests and, when the MariaDB/MySQL ones were skipped
// (LATCHKEY_TEST_MYSQL_DSN not set), says so in one line, even without -v.
func TestMain(m *testing.M) { storagetest.Main(m) }
