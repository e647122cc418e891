"""The composition root's stages, in the order `bot.app.build` calls them: texts and
platforms (shared by every part), the intake and the feeds (what members type), the
relays (which show those commands), then what needs the relays (chores, dispatcher).
Each stage builds complete objects through their constructors; nothing is set afterwards.
"""
