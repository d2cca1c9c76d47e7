package templates

import (
	"fmt"
	"strconv"
	"strings"
)

// Messages holds every user-facing text of the pages, keyed by Keycloak's
// message keys (theme messages_en.properties) where Keycloak has one, so a
// later i18n layer swaps this map per locale. Values may hold positional
// placeholders {0}, {1}, ... filled by Message.
//
// Keys without a Keycloak counterpart (keygate-specific) are listed last.
var Messages = map[string]string{
	// Login form.
	"loginTitle":        "Sign in to {0}",
	"loginAccountTitle": "Sign in to your account",
	"loginClientHint":   "to continue to {0}",
	"doLogIn":           "Sign In",
	"username":          "Username",
	"usernameOrEmail":   "Username or email",
	"email":             "Email",
	"password":          "Password",
	"rememberMe":        "Remember me",

	"firstName": "First name",
	"lastName":  "Last name",
	"doSubmit":  "Submit",

	// Registration and languages.
	"registerTitle":                 "Register",
	"doRegister":                    "Register",
	"noAccount":                     "New user?",
	"passwordConfirm":               "Confirm password",
	"backToLogin":                   "« Back to Login",
	"missingFirstNameMessage":       "Please specify first name.",
	"missingLastNameMessage":        "Please specify last name.",
	"missingPasswordMessage":        "Please specify password.",
	"notMatchPasswordMessage":       "Passwords don't match.",
	"emailExistsMessage":            "Email already exists.",
	"registrationNotAllowedMessage": "Registration not allowed",
	"languages":                     "Languages",

	// Identity brokering.
	"identity-provider-login-label":                 "Or sign in with",
	"loginIdpReviewProfileTitle":                    "Update Account Information",
	"missingUsernameMessage":                        "Please specify username.",
	"missingEmailMessage":                           "Please specify email.",
	"invalidEmailMessage":                           "Invalid email address.",
	"usernameExistsMessage":                         "Username already exists.",
	"confirmLinkIdpTitle":                           "Account already exists",
	"confirmLinkIdpReviewProfile":                   "Review profile",
	"confirmLinkIdpContinue":                        "Add to existing account",
	"federatedIdentityConfirmLinkMessage":           "User with {0} {1} already exists. How do you want to continue?",
	"federatedIdentityConfirmReauthenticateMessage": "Authenticate to link your account with {0}",
	"identityProviderNotFoundMessage":               "Could not find an identity provider with the identifier.",
	"identityProviderAuthenticationFailedMessage":   "Authentication failed. Could not authenticate with identity provider.",
	"identityProviderUnexpectedErrorMessage":        "Unexpected error when authenticating with identity provider",
	"invalidFederatedIdentityActionMessage":         "Invalid or missing action.",

	// Login errors.
	"invalidUserMessage":     "Invalid username or password.",
	"accountDisabledMessage": "Account is disabled, contact your administrator.",
	"expiredCodeMessage":     "Login timeout. Please sign in again.",
	"loginTimeout":           "Your login attempt timed out. Login will start from the beginning.",

	// Logout.
	"logoutConfirmTitle":  "Logging out",
	"logoutConfirmHeader": "Do you want to log out?",
	"doLogout":            "Logout",
	"successLogout":       "You are logged out",

	// Error and info pages.
	"errorTitle":                "We are sorry...",
	"pageExpiredTitle":          "Page has expired",
	"pageExpiredMessage":        "This page is no longer valid. Go back to your application and sign in again.",
	"staleCodeMessage":          "This page is no longer valid, please go back to your application and sign in again",
	"cookieNotFoundMessage":     "Cookie not found. Please make sure cookies are enabled in your browser.",
	"invalidRequestMessage":     "Invalid Request",
	"clientNotFoundMessage":     "Client not found.",
	"clientDisabledMessage":     "Client disabled.",
	"invalidRedirectUriMessage": "Invalid parameter: redirect_uri",
	"invalidParameterMessage":   "Invalid parameter: {0}",
	"missingParameterMessage":   "Missing parameters: {0}",
	"unexpectedErrorMessage":    "An unexpected error occurred. Please try again later.",
	"pageNotFound":              "Page not found",
	"temporarilyUnavailable":    "The service is temporarily unavailable. Please try again later.",
	"backToApplication":         "« Back to Application",
	"doContinue":                "Continue",

	// Password policy (idp/password reports these keys).
	"invalidPasswordMinLengthMessage":         "Invalid password: minimum length {0}.",
	"invalidPasswordMaxLengthMessage":         "Invalid password: maximum length {0}.",
	"invalidPasswordMinDigitsMessage":         "Invalid password: must contain at least {0} numerical digits.",
	"invalidPasswordMinLowerCaseCharsMessage": "Invalid password: must contain at least {0} lower case characters.",
	"invalidPasswordMinUpperCaseCharsMessage": "Invalid password: must contain at least {0} upper case characters.",
	"invalidPasswordMinSpecialCharsMessage":   "Invalid password: must contain at least {0} special characters.",
	"invalidPasswordNotUsernameMessage":       "Invalid password: must not be equal to the username.",
	"invalidPasswordNotEmailMessage":          "Invalid password: must not be equal to the email.",
	"invalidPasswordRegexPatternMessage":      "Invalid password: fails to match regex pattern(s).",
	"invalidPasswordHistoryMessage":           "Invalid password: must not be equal to any of last {0} passwords.",

	// Required actions.
	"updatePasswordTitle":           "Update password",
	"updatePasswordMessage":         "You need to change your password.",
	"passwordNew":                   "New Password",
	"logoutOtherSessions":           "Sign out from other devices",
	"loginProfileTitle":             "Update Account Information",
	"updateProfileMessage":          "You need to update your user profile to activate your account.",
	"readOnlyUsernameMessage":       "You can't update your username as it is read-only.",
	"termsTitle":                    "Terms and Conditions",
	"termsPlainText":                "Terms and conditions to be defined.",
	"oauthGrantTitle":               "Grant Access to {0}",
	"oauthGrantRequest":             "Do you grant these access privileges?",
	"doYes":                         "Yes",
	"doNo":                          "No",
	"profileScopeConsentText":       "User profile",
	"emailScopeConsentText":         "Email address",
	"addressScopeConsentText":       "Address",
	"phoneScopeConsentText":         "Phone number",
	"offlineAccessScopeConsentText": "Offline Access",
	"rolesScopeConsentText":         "User roles",
	"samlRoleListScopeConsentText":  "My Roles",
	"organizationScopeConsentText":  "Organization",
	"applications":                  "Applications",
	"applicationsIntroMessage":      "Track and manage your app permission to access your account",
	"applicationsEmpty":             "No application has access to your account.",
	"inUse":                         "In use",
	"offlineAccess":                 "Offline access",
	"hasAccessTo":                   "Has access to",
	"accessGrantedOn":               "Access granted on",
	"removeAccess":                  "Remove access",
	"accessRemovedMessage":          "The application's access was removed.",
	"doAccept":                      "Accept",
	"doDecline":                     "Decline",
	"deleteAccountConfirm":          "Delete account confirmation",
	"irreversibleAction":            "This action is irreversible",
	"deletingImplies":               "Deleting your account implies:",
	"errasingData":                  "Erasing all your data",
	"loggingOutImmediately":         "Logging you out immediately",
	"finalDeletionConfirmation":     "If you delete your account, it cannot be restored. To keep your account, click Cancel.",
	"doConfirmDelete":               "Confirm deletion",
	"doCancel":                      "Cancel",
	"deletingAccountForbidden":      "You do not have enough permissions to delete your own account, contact admin.",
	"userDeletedSuccessfully":       "User deleted successfully",
	"accountUpdatedTitle":           "Account updated",
	"accountUpdatedMessage":         "Your account has been updated.",

	// Email (Keycloak's email theme and the login pages that send mail).
	"passwordResetSubject":                           "Reset password",
	"passwordResetBody":                              "Someone just requested to change your {2} account's credentials. If this was you, click on the link below to reset them.\n\n{0}\n\nThis link and code will expire within {3}.\n\nIf you don't want to reset your credentials, just ignore this message and nothing will be changed.",
	"passwordResetBodyHtml":                          "<p>Someone just requested to change your {2} account's credentials. If this was you, click on the link below to reset them.</p><p><a href=\"{0}\">Link to reset credentials</a></p><p>This link will expire within {3}.</p><p>If you don't want to reset your credentials, just ignore this message and nothing will be changed.</p>",
	"emailVerificationSubject":                       "Verify email",
	"emailVerificationBody":                          "Someone has created a {2} account with this email address. If this was you, click the link below to verify your email address\n\n{0}\n\nThis link will expire within {3}.\n\nIf you didn't create this account, just ignore this message.",
	"emailVerificationBodyHtml":                      "<p>Someone has created a {2} account with this email address. If this was you, click the link below to verify your email address</p><p><a href=\"{0}\">Link to e-mail address verification</a></p><p>This link will expire within {3}.</p><p>If you didn't create this account, just ignore this message.</p>",
	"executeActionsSubject":                          "Update Your Account",
	"executeActionsBody":                             "Your administrator has just requested that you update your {2} account by performing the following action(s): {3}. Click on the link below to start this process.\n\n{0}\n\nThis link will expire within {4}.\n\nIf you are unaware that your administrator has requested this, just ignore this message and nothing will be changed.",
	"executeActionsBodyHtml":                         "<p>Your administrator has just requested that you update your {2} account by performing the following action(s): {3}. Click on the link below to start this process.</p><p><a href=\"{0}\">Link to account update</a></p><p>This link will expire within {4}.</p><p>If you are unaware that your administrator has requested this, just ignore this message and nothing will be changed.</p>",
	"emailTestSubject":                               "[KEYGATE] - SMTP test message",
	"emailTestBody":                                  "This is a test message",
	"emailTestBodyHtml":                              "<p>This is a test message</p>",
	"requiredAction.CONFIGURE_TOTP":                  "Configure OTP",
	"requiredAction.TERMS_AND_CONDITIONS":            "Terms and Conditions",
	"requiredAction.UPDATE_PASSWORD":                 "Update Password",
	"requiredAction.UPDATE_PROFILE":                  "Update Profile",
	"requiredAction.VERIFY_EMAIL":                    "Verify Email",
	"linkExpirationFormatter.timePeriodUnit.seconds": "{0,choice,0#seconds|1#second|1<seconds}",
	"linkExpirationFormatter.timePeriodUnit.minutes": "{0,choice,0#minutes|1#minute|1<minutes}",
	"linkExpirationFormatter.timePeriodUnit.hours":   "{0,choice,0#hours|1#hour|1<hours}",
	"linkExpirationFormatter.timePeriodUnit.days":    "{0,choice,0#days|1#day|1<days}",
	"doForgotPassword":                               "Forgot Password?",
	"emailForgotTitle":                               "Forgot Your Password?",
	"emailInstruction":                               "Enter your username or email address and we will send you instructions on how to create a new password.",
	"emailInstructionUsername":                       "Enter your username and we will send you instructions on how to create a new password.",
	"emailSentMessage":                               "You should receive an email shortly with further instructions.",
	"emailSendErrorMessage":                          "Failed to send email, please try again later.",
	"resetCredentialNotAllowedMessage":               "Reset Credential not allowed",
	"accountPasswordUpdatedMessage":                  "Your password has been updated.",
	"emailVerifyTitle":                               "Email verification",
	"emailVerifyInstruction1":                        "An email with instructions to verify your email address has been sent to your address {0}.",
	"emailVerifyInstruction2":                        "Haven't received a verification code in your email?",
	"emailVerifyInstruction3":                        "to re-send the email.",
	"doClickHere":                                    "Click here",
	"verifyEmailMessage":                             "You need to verify your email address to activate your account.",
	"emailVerifiedMessage":                           "Your email address has been verified.",
	"emailVerifiedAlreadyMessage":                    "Your email address has been verified already.",
	"staleEmailVerificationLink":                     "The link you clicked is an old stale link and is no longer valid.  Maybe you have already verified your email.",
	"expiredActionMessage":                           "Action expired. Please continue with login now.",
	"expiredActionTokenNoSessionMessage":             "Action expired.",
	"expiredActionTokenSessionExistsMessage":         "Action expired. Please start again.",
	"confirmEmailAddressVerification":                "Confirm validity of e-mail address {0}.",
	"confirmExecutionOfActions":                      "Perform the following action(s)",
	"proceedWithAction":                              "» Click here to proceed",
	"invalidTokenRequiredActions":                    "Required actions included in the link are not valid",

	// keygate-specific (no Keycloak key).
	"formPostTitle":           "Redirecting…",
	"formPostMessage":         "Returning you to the application.",
	"formPostNoscriptMessage": "JavaScript is disabled in your browser. Press Continue to return to the application.",
	// A login whose user has pending required actions, until keygate has
	// the pages for them.
	"accountNotSetUpMessage": "Account is not fully set up. Contact your administrator to complete it.",
	"httpsRequiredMessage":   "HTTPS required",
	// A login whose directory (LDAP) could not answer: not the person's fault.
	"userStorageUnavailableMessage": "The user directory is not reachable right now. Please try again in a moment.",
	// Identity brokering.
	"identityProviderUnavailableMessage":      "The identity provider is not reachable right now. Please try again in a moment.",
	"identityProviderCancelledMessage":        "Sign-in at the identity provider was cancelled.",
	"identityProviderLinkOnlyMessage":         "This identity provider can only be linked to an existing account, not used to sign in.",
	"federatedIdentityLinkedElsewhereMessage": "This account is already linked to another account of the identity provider.",

	// Account console (Keycloak's account theme keys, {{x}} as {0}).
	"manageAccount":              "Manage account",
	"personalInfo":               "Personal info",
	"personalInfoDescription":    "Manage your basic information",
	"signingIn":                  "Signing in",
	"signingInDescription":       "Configure ways to sign in.",
	"deviceActivity":             "Device activity",
	"linkedAccounts":             "Linked accounts",
	"linkedAccountsIntroMessage": "Manage logins through third-party accounts.",
	"backTo":                     "Back to {0}",
	"signOut":                    "Sign out",
	"save":                       "Save",
	"cancel":                     "Cancel",
	"delete":                     "Delete",
	"basic-authentication":       "Basic authentication",
	"two-factor":                 "Two-factor authentication",
	"password-display-name":      "Password",
	"password-help-text":         "Sign in by entering your password.",
	"otp-display-name":           "Authenticator application",
	"otp-help-text":              "Enter a verification code from authenticator application.",
	"credentialCreatedAt":        "Created {0}.",
	"setUpNew":                   "Set up {0}",
	"notSetUp":                   "{0} is not set up.",
	"successRemovedMessage":      "The credential was removed.",
	"signedInDevicesExplanation": "Sign out of any unfamiliar devices.",
	"currentSession":             "Current session",
	"started":                    "Started",
	"lastAccessedOn":             "Last accessed",
	"expires":                    "Expires",
	"clients":                    "Clients",
	"linkedLoginProviders":       "Linked login providers",
	"unlinkedLoginProviders":     "Unlinked login providers",
	"linkedEmpty":                "No linked providers",
	"unlinkedEmpty":              "No unlinked providers",
	"link":                       "Link account",
	"unLink":                     "Unlink account",
	"unLinkSuccess":              "Successfully unlinked account",
	"deleteAccount":              "Delete account",
	"deleteAccountWarning":       "This is irreversible. All your data will be permanently destroyed, and irretrievable.",
	// Account console errors (Keycloak's login and account message keys).
	"invalidPasswordExistingMessage":               "Invalid existing password.",
	"readOnlyUserMessage":                          "You can't update your account as it is read-only.",
	"readOnlyPasswordMessage":                      "You can't update your password as your account is read-only.",
	"invalidUsernameMessage":                       "Invalid username.",
	"sessionNotActiveMessage":                      "Session not active.",
	"federatedIdentityNotActiveMessage":            "This identity is not active anymore.",
	"federatedIdentityRemovingLastProviderMessage": "You can't remove last federated identity as you don't have a password.",
	// Built-in clients' names (Keycloak's ${client_...}).
	"client_account":         "Account",
	"client_account-console": "Account Console",
	// Account console, keygate-specific.
	"passwordCurrent":                "Current password",
	"emailNotVerified":               "This email address is not verified yet.",
	"signOutAllOtherDevices":         "Sign out all other devices",
	"signedOutSessionMessage":        "The session was signed out.",
	"signedOutOtherSessionsMessage":  "Every other session was signed out.",
	"identityProviderLinkedMessage":  "The account was linked.",
	"accountConsoleForbiddenMessage": "You are not allowed to manage this account here.",
	"invalidCsrfTokenMessage":        "This form has expired. Reload the page and try again.",
	"invalidPersonNameMessage":       "Invalid name.",
	"credentialNotFoundMessage":      "Credential not found.",

	// One-time passwords (Keycloak's login-otp and login-config-totp).
	"loginOtpOneTime":                   "One-time code",
	"authenticatorCode":                 "One-time code",
	"loginChooseAuthenticator":          "Select login method",
	"invalidTotpMessage":                "Invalid authenticator code.",
	"missingTotpMessage":                "Please specify authenticator code.",
	"missingTotpDeviceNameMessage":      "Please specify device name.",
	"configureTotpMessage":              "You need to set up Mobile Authenticator to activate your account.",
	"loginTotpTitle":                    "Mobile Authenticator Setup",
	"loginTotpStep1":                    "Install one of the following applications on your mobile:",
	"loginTotpStep2":                    "Open the application and scan the barcode:",
	"loginTotpStep3":                    "Enter the one-time code provided by the application and click Submit to finish the setup.",
	"loginTotpStep3DeviceName":          "Provide a Device Name to help you manage your OTP devices.",
	"loginTotpManualStep2":              "Open the application and enter the key:",
	"loginTotpManualStep3":              "Use the following configuration values if the application allows setting them:",
	"loginTotpUnableToScan":             "Unable to scan?",
	"loginTotpScanBarcode":              "Scan barcode?",
	"loginTotpType":                     "Type",
	"loginTotpAlgorithm":                "Algorithm",
	"loginTotpDigits":                   "Digits",
	"loginTotpInterval":                 "Interval",
	"loginTotpCounter":                  "Counter",
	"loginTotpDeviceName":               "Device Name",
	"loginTotp.totp":                    "Time-based",
	"loginTotp.hotp":                    "Counter-based",
	"totpAppFreeOTPName":                "FreeOTP",
	"totpAppGoogleName":                 "Google Authenticator",
	"totpAppMicrosoftAuthenticatorName": "Microsoft Authenticator",
}

// Message returns the text for key with {0}, {1}, ... replaced by args.
// An unknown key yields the key itself, as Keycloak's themes do, so a
// missing translation is visible rather than blank.
func Message(key string, args ...any) string {
	s, ok := Messages[key]
	if !ok {
		return key
	}
	if len(args) == 0 || !strings.Contains(s, "{") {
		return s
	}
	pairs := make([]string, 0, 2*len(args))
	for i, a := range args {
		pairs = append(pairs, "{"+strconv.Itoa(i)+"}", fmt.Sprint(a))
	}
	return strings.NewReplacer(pairs...).Replace(s)
}
