package store

// RealmVersion counts the committed writes to the tables keygate caches,
// per realm and by kind. The SQL backends keep the counters in the
// database (triggers on the tables, migration 0009), so a write from any
// code path, process or replica counts; caches compare counters instead of
// trusting a time to live (see package store/cache). A realm that does not
// exist has the zero RealmVersion; a live realm's counters start at 1.
type RealmVersion struct {
	// Config counts writes to the realm row, clients, client scopes,
	// roles and their composites, groups and their roles, keys, identity
	// providers and their mappers.
	Config int64
	// Grants counts writes to users' role and group mappings.
	Grants int64
	// Components counts writes to components (user federation and its
	// mappers).
	Components int64
}
