"""The slow world both request drivers step through: the clock, what each site holds, the actors and their
covert attempts. It settles no request."""
