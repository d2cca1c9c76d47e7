package templates

var messagesNL = map[string]string{}
