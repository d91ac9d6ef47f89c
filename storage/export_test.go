package storage

import "gorm.io/gorm"

// Test-only access to the pools and the DSN handling, for the settings tests
// in package storage_test.

func WritePool(s *Store) *gorm.DB { return s.write }
func ReadPool(s *Store) *gorm.DB  { return s.read }

var MySQLConfig = mysqlConfig
