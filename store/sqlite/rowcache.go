package sqlite

// rowCache holds the state rows the writer read or wrote last, and which
// (scope, key) have no row, so that the next event on a key does not
// query its rows again. Every change of a state row goes through the
// writer (writeState); what changes rows in bulk (the purge of a scope at
// its cap, PruneState) and every rollback forget it all, as they forget
// the key counts. Only the writer touches it.
type rowCache struct {
	rows  map[scopeKey]cachedRow
	bytes int
}

// cachedRow is a state row, or ok false for none.
type cachedRow struct {
	row stateRow
	ok  bool
}

// Bounds of the cache: past either, it forgets half its rows, at
// random, so that a flood of new keys costs about what it cost without
// a cache, and rows used more often than the cache can hold are still
// found about half the time. At the bounds it holds about 16 MB: 8 MB of
// values and some 160 bytes a row besides.
const (
	maxCachedRows  = 50_000
	maxCachedBytes = 8 << 20
)

// get returns what the cache knows of k.
func (c *rowCache) get(k scopeKey) (cachedRow, bool) {
	r, ok := c.rows[k]
	return r, ok
}

// put records k's row (or, with ok false, that it has none).
func (c *rowCache) put(k scopeKey, r cachedRow) {
	if c.rows == nil {
		c.rows = make(map[scopeKey]cachedRow)
	}
	if len(c.rows) >= maxCachedRows || c.bytes >= maxCachedBytes {
		// A map's order is random: the first half met is a random half.
		n := len(c.rows) / 2
		for old, row := range c.rows {
			if n == 0 {
				break
			}
			delete(c.rows, old)
			c.bytes -= len(row.row.value)
			n--
		}
	}
	old := c.rows[k]
	c.bytes += len(r.row.value) - len(old.row.value)
	c.rows[k] = r
}

// forget drops everything.
func (c *rowCache) forget() { c.rows, c.bytes = nil, 0 }
