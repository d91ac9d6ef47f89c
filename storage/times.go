package storage

import "time"

// The range both backends hold: MySQL's DATETIME runs from year 1000 to
// 9999, and within it SQLite's text form sorts as it compares.
var (
	minDBTime = time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDBTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// dbTime is t as stored: nil for the zero time ("unset" is NULL, never a
// zero date), else UTC, truncated to the microsecond (DATETIME(6)) and
// clamped into [minDBTime, maxDBTime], which keeps every comparison with a
// present-day time as it was.
func dbTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	c := clampTime(t)
	return &c
}

func clampTime(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Microsecond)
	switch {
	case t.Before(minDBTime):
		return minDBTime
	case t.After(maxDBTime):
		return maxDBTime
	}
	return t
}

// goTime is a stored time read back: UTC, or the zero time for NULL.
func goTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}
