// Package storagetest holds the conformance suite every storage backend must
// pass ([RunConformance]) and helpers that give other packages' tests a real,
// migrated store: [OpenSQLite] always, [OpenMySQL] and [MySQLDSN] when
// LATCHKEY_TEST_MYSQL_DSN names a MySQL or MariaDB server.
//
// The suite states the storage contracts that fosite keeps in comments (a
// used refresh token returns its request together with ErrInactiveToken) and
// the dialect traps a SQL store falls into (time zones, zero and extreme
// times, duplicate keys, case-insensitive collations, concurrent rotation).
package storagetest
