"""Records the law expects of a business that keeps personal data (APPI art. 23-25 and the PPC
guidelines on security measures): the periodic review of who may see what, the register of
outside contractors and their supervision (委託先の監督), and staff training (従業者の教育).

Staff level: the contract check at login (``contractors``) is called by the authentication
backend, which lives here too; the access review's overview, which reads grants and the audit
log, is desk-level (``privacy.desks.records``)."""
