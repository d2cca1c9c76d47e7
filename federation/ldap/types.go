package ldap

// ProviderID is the user storage provider id of LDAP components.
const ProviderID = "ldap"

// MapperTypes are the providerIds of the LDAP mappers keygate runs (the
// admin API's serverinfo lists them). Certificate and Kerberos principal
// mappers are stored and exported, not run, so they are not listed;
// TestMapperTypesMatchParse keeps this list and parseMappers' cases the
// same set.
func MapperTypes() []string {
	return []string{mapperUserAttribute, mapperFullName, mapperGroup, mapperRole, mapperHardcodedRole,
		mapperHardcodedGroup, mapperHardcodedAttr, mapperHardcodedLDAPAttr, mapperMSADAccount}
}
