package storagetest

import "testing"

func TestSkipNote(t *testing.T) {
	if got := SkipNote("./storage/", nil); got != "" {
		t.Errorf("no skips: %q", got)
	}
	want := "cmd/latchkey: 1 MariaDB/MySQL test skipped (TestUsersCLI/mysql) because LATCHKEY_TEST_MYSQL_DSN is not set; " +
		"to run them: LATCHKEY_TEST_MYSQL_DSN='root@tcp(127.0.0.1:3306)/test?parseTime=true' go test ./cmd/latchkey/"
	if got := SkipNote("./cmd/latchkey/", []string{"TestUsersCLI/mysql"}); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	got := SkipNote("./accounts/", []string{"TestA/mysql", "TestB/mysql", "TestC/mysql", "TestD/mysql", "TestE/mysql"})
	if want := "accounts: 5 MariaDB/MySQL tests skipped (TestA/mysql, TestB/mysql, TestC/mysql and 2 more) because"; got[:len(want)] != want {
		t.Errorf("got %q", got)
	}
}
