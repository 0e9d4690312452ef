// The release's template renderer (plugin-manifest/release render): the standard library only.
module kubectl-stateful.local/release/template

go 1.22
