"""Moving files to and from hosts over SSH, for every layer above that needs it (on-box
deployment, certificate renewal, CA fetch): one copy of the SCP/SFTP logic, vendor-neutral."""
