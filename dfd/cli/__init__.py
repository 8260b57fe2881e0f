"""The one `dfd` command and its verbs; each verb imports its work only when run."""
