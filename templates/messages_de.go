package templates

var messagesDE = map[string]string{}
