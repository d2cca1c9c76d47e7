package rep

// BuiltinProtocolMappers are the openid-connect protocol mappers of the
// built-in client scopes a new realm gets (profile, email, roles, ...),
// once each by name, without ids: serverinfo's
// builtinProtocolMappers["openid-connect"], which the admin console offers
// as "predefined mappers".
func BuiltinProtocolMappers() []ProtocolMapper {
	seen := map[string]bool{}
	out := []ProtocolMapper{}
	for _, s := range builtinClientScopes() {
		for _, m := range s.ProtocolMappers {
			if m.Protocol != "openid-connect" || seen[m.Name] {
				continue
			}
			seen[m.Name] = true
			m.ID = ""
			out = append(out, m)
		}
	}
	return out
}
