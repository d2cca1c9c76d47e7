package templates

var messagesFR = map[string]string{}
