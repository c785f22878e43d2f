package convert

// IfnameDriverOpt is ifnameDriverOpt, for the external tests.
const IfnameDriverOpt = ifnameDriverOpt
