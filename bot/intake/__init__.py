"""The volunteers' intake: every way an alert comes in, through one path.

- `reading`: a line (a command's text, a photo's caption) read into a draft, the one
  place that parses one; what a message carries besides text (photo, unsupported kinds).
- `raising`: a draft raised within the member's limit (`limit`), answered with its receipt.
- `entry`: where a line or a lone photo or location enters (raised at once, or the guided
  conversation started for what is missing) and where non-command input is taken.
- `commands`: `/alert`, `/urgent`, `/cancel` (`/mobilise` is `bot/mobilisations/`).
- `guided`, `guided_steps`, `guided_questions`, `drafts`: the step-by-step alert, its
  answers, its questions, and its draft stored in the database.
- `corrections`: an edited message corrects the alert it raised.
- `groups`: the bot added to a group; `unclaimed_groups`, `delivery_reports` and
  `upkeep`: the scheduled work (leave groups nobody claimed, tell authors what was not
  reached, forget abandoned drafts).
- `texts`: what the intake says, French and English.
"""
