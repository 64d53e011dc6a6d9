"""The slow world both request drivers step through: what each site holds over time."""
