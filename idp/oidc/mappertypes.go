package oidc

// MapperType is a protocol mapper type the claims code implements, as the
// admin API's serverinfo lists it (Keycloak's
// ProtocolMapperTypeRepresentation). TestMapperTypesMatchClaims keeps this
// table and claims.go's cases the same set.
type MapperType struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Category   string           `json:"category"`
	HelpText   string           `json:"helpText"`
	Priority   int              `json:"priority"`
	Properties []ConfigProperty `json:"properties"`
}

// ConfigProperty is Keycloak's ConfigPropertyRepresentation.
type ConfigProperty struct {
	Name         string   `json:"name"`
	Label        string   `json:"label"`
	HelpText     string   `json:"helpText"`
	Type         string   `json:"type"`
	DefaultValue any      `json:"defaultValue,omitempty"`
	Options      []string `json:"options,omitempty"`
	Secret       bool     `json:"secret"`
	Required     bool     `json:"required"`
	ReadOnly     bool     `json:"readOnly"`
}

// The config properties the claims code reads.
var (
	propClaimName = ConfigProperty{Name: "claim.name", Label: "Token Claim Name", Type: "String",
		HelpText: "Name of the claim to insert into the token. This can be a fully qualified name like 'address.street'; dots nest it, a backslash-escaped dot does not."}
	propJSONType = ConfigProperty{Name: "jsonType.label", Label: "Claim JSON Type", Type: "List",
		Options:  []string{"String", "long", "int", "boolean", "JSON"},
		HelpText: "JSON type that should be used to populate the json claim in the token."}
	propMultivalued = ConfigProperty{Name: "multivalued", Label: "Multivalued", Type: "boolean", DefaultValue: false,
		HelpText: "Indicates if the attribute supports multiple values: the claim is then a list of every value."}
	propUserAttribute = ConfigProperty{Name: "user.attribute", Label: "User Attribute", Type: "String",
		HelpText: "Name of the stored user attribute."}
)

func tokenProps(targets ...string) []ConfigProperty {
	labels := map[string][2]string{
		toID:            {"Add to ID token", "Should the claim be added to the ID token?"},
		toAccess:        {"Add to access token", "Should the claim be added to the access token?"},
		toUserinfo:      {"Add to userinfo", "Should the claim be added to the userinfo?"},
		toIntrospection: {"Add to token introspection", "Should the claim be added to the token introspection response?"},
	}
	out := make([]ConfigProperty, 0, len(targets))
	for _, t := range targets {
		out = append(out, ConfigProperty{Name: t, Label: labels[t][0], HelpText: labels[t][1], Type: "boolean", DefaultValue: "true"})
	}
	return out
}

func props(ps ...[]ConfigProperty) []ConfigProperty {
	var out []ConfigProperty
	for _, p := range ps {
		out = append(out, p...)
	}
	return out
}

func one(ps ...ConfigProperty) []ConfigProperty { return ps }

var allTargets = []string{toID, toAccess, toUserinfo, toIntrospection}

// mapperTypes are the openid-connect protocol mapper types keygate runs,
// in the order Keycloak's admin console lists them by name. Priorities
// are the order the claims code applies them in: hardcoded roles first,
// audience resolution last.
var mapperTypes = []MapperType{
	{ID: "oidc-acr-mapper", Name: "Authentication Context Class Reference (ACR)", Category: "Token mapper",
		HelpText: "Maps the achieved LoA (Level of Authentication) to the 'acr' claim of the token.", Properties: tokenProps(toID, toAccess, toIntrospection)},
	{ID: "oidc-allowed-origins-mapper", Name: "Allowed Web Origins", Category: "Token mapper",
		HelpText: "Adds all allowed web origins to the 'allowed-origins' claim in the token.", Properties: tokenProps(toAccess, toIntrospection)},
	{ID: "oidc-audience-mapper", Name: "Audience", Category: "Token mapper",
		HelpText: "Add specified audience to the audience (aud) field of token.",
		Properties: props(one(
			ConfigProperty{Name: "included.client.audience", Label: "Included Client Audience", Type: "ClientList", HelpText: "The Client ID of the specified audience client will be included in audience (aud) field of the token."},
			ConfigProperty{Name: "included.custom.audience", Label: "Included Custom Audience", Type: "String", HelpText: "This is used just if 'Included Client Audience' is not filled. The specified value will be included in audience (aud) field of the token."},
		), tokenProps(toID, toAccess, toIntrospection))},
	{ID: "oidc-audience-resolve-mapper", Name: "Audience Resolve", Category: "Token mapper", Priority: 10,
		HelpText:   "Adds all client_ids of \"allowed\" clients to the audience field of the token: the clients for which the user has at least one client role.",
		Properties: tokenProps(toID, toAccess, toIntrospection)},
	{ID: "oidc-group-membership-mapper", Name: "Group Membership", Category: "Token mapper",
		HelpText: "Map user group membership",
		Properties: props(one(propClaimName, ConfigProperty{Name: "full.path", Label: "Full group path", Type: "boolean", DefaultValue: "true",
			HelpText: "Include full path to group i.e. /top/level1/level2, false will just specify the group name"}), tokenProps(allTargets...))},
	{ID: "oidc-hardcoded-claim-mapper", Name: "Hardcoded claim", Category: "Token mapper",
		HelpText: "Hardcode a claim into the token.",
		Properties: props(one(propClaimName, ConfigProperty{Name: "claim.value", Label: "Claim value", Type: "String",
			HelpText: "Value of the claim you want to hard code."}, propJSONType), tokenProps(allTargets...))},
	{ID: "oidc-hardcoded-role-mapper", Name: "Hardcoded Role", Category: "Token mapper", Priority: -10,
		HelpText:   "Hardcode a role into the access token.",
		Properties: one(ConfigProperty{Name: "role", Label: "Role", Type: "Role", HelpText: "Role you want added to the token. Click 'Select Role' button to browse roles, or just type it in the textbox. To specify an application role the syntax is appname.approle, i.e. myapp.myrole"})},
	{ID: "oidc-sub-mapper", Name: "Subject (sub)", Category: "Token mapper",
		HelpText: "Add 'sub' (subject) claim to the token.", Properties: tokenProps(toAccess, toIntrospection)},
	{ID: "oidc-address-mapper", Name: "User Address", Category: "Token mapper",
		HelpText: "Maps user address attributes (street, locality, region, postal_code, and country) to the OpenID Connect 'address' claim.",
		Properties: props(func() []ConfigProperty {
			var out []ConfigProperty
			for _, k := range []string{"formatted", "street", "locality", "region", "postal_code", "country"} {
				out = append(out, ConfigProperty{Name: "user.attribute." + k, Label: "User Attribute Name for " + k, Type: "String", DefaultValue: k,
					HelpText: "Name of the user attribute, which will be used to map to the '" + k + "' subclaim of the 'address' token claim."})
			}
			return out
		}(), tokenProps(allTargets...))},
	{ID: "oidc-usermodel-attribute-mapper", Name: "User Attribute", Category: "Token mapper",
		HelpText:   "Map a custom user attribute to a token claim.",
		Properties: props(one(propUserAttribute, propClaimName, propJSONType, propMultivalued), tokenProps(allTargets...))},
	{ID: "oidc-usermodel-client-role-mapper", Name: "User Client Role", Category: "Token mapper",
		HelpText: "Map a user client role to a token claim.",
		Properties: props(one(
			ConfigProperty{Name: "usermodel.clientRoleMapping.clientId", Label: "Client ID", Type: "ClientList", HelpText: "Client ID for role mappings. Just client roles of this client will be added to the token. If this is unset, client roles of all clients will be added to the token."},
			ConfigProperty{Name: "usermodel.clientRoleMapping.rolePrefix", Label: "Client Role prefix", Type: "String", HelpText: "A prefix for each client role (optional)."},
			propMultivalued, propClaimName, propJSONType), tokenProps(allTargets...))},
	{ID: "oidc-usermodel-realm-role-mapper", Name: "User Realm Role", Category: "Token mapper",
		HelpText: "Map a user realm role to a token claim.",
		Properties: props(one(
			ConfigProperty{Name: "usermodel.realmRoleMapping.rolePrefix", Label: "Realm Role prefix", Type: "String", HelpText: "A prefix for each Realm Role (optional)."},
			propMultivalued, propClaimName, propJSONType), tokenProps(allTargets...))},
	{ID: "oidc-usermodel-property-mapper", Name: "User Property", Category: "Token mapper",
		HelpText: "Map a built in user property (email, firstName, lastName) to a token claim.",
		Properties: props(one(ConfigProperty{Name: "user.attribute", Label: "Property", Type: "String",
			HelpText: "Name of the property method in the UserModel interface. For example, a value of 'email' would reference the UserModel.getEmail() method."},
			propClaimName, propJSONType), tokenProps(allTargets...))},
	{ID: "oidc-usersessionmodel-note-mapper", Name: "User Session Note", Category: "Token mapper",
		HelpText: "Map a custom user session note to a token claim.",
		Properties: props(one(ConfigProperty{Name: "user.session.note", Label: "User Session Note", Type: "String",
			HelpText: "Name of stored user session note within the UserSessionModel.note map (keygate: AUTH_TIME, clientId, clientHost, clientAddress)."},
			propClaimName, propJSONType), tokenProps(toID, toAccess, toIntrospection))},
	{ID: "oidc-full-name-mapper", Name: "User's full name", Category: "Token mapper",
		HelpText: "Maps the user's first and last name to the OpenID Connect 'name' claim. Format is <first> + ' ' + <last>", Properties: tokenProps(allTargets...)},
}

// MapperTypes are the openid-connect protocol mapper types keygate runs.
func MapperTypes() []MapperType { return mapperTypes }
