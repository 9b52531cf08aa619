/*
 * The subset of the PKCS#11 API (v2.40, plus the EdDSA names of v3.0)
 * that pkcs11_token.c and pkcs11_eddsa.c use.
 *
 * Declared here rather than included because no package in
 * scripts/install-deps.sh ships a pkcs11.h (libp11-dev keeps its copy
 * private; p11-kit's comes only with libp11-kit-dev). Names, values and the
 * CK_FUNCTION_LIST layout follow the OASIS header; entries bulwark never
 * calls are typed as plain function pointers but keep their slot, so the
 * struct layout matches the module's. The layout was checked field by field
 * against p11-kit's pkcs11.h (offsetof of every member we call).
 */
#ifndef BW_PKCS11_CK_H
#define BW_PKCS11_CK_H

typedef unsigned char CK_BYTE;
typedef CK_BYTE CK_BBOOL;
typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_FLAGS;
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_OBJECT_CLASS;
typedef CK_ULONG CK_KEY_TYPE;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_ULONG CK_USER_TYPE;

#define CK_TRUE 1
#define CK_FALSE 0
#define CK_INVALID_HANDLE 0UL

typedef struct {
	CK_BYTE major;
	CK_BYTE minor;
} CK_VERSION;

typedef struct {
	CK_BYTE label[32];
	CK_BYTE manufacturerID[32];
	CK_BYTE model[16];
	CK_BYTE serialNumber[16];
	CK_FLAGS flags;
	CK_ULONG ulMaxSessionCount;
	CK_ULONG ulSessionCount;
	CK_ULONG ulMaxRwSessionCount;
	CK_ULONG ulRwSessionCount;
	CK_ULONG ulMaxPinLen;
	CK_ULONG ulMinPinLen;
	CK_ULONG ulTotalPublicMemory;
	CK_ULONG ulFreePublicMemory;
	CK_ULONG ulTotalPrivateMemory;
	CK_ULONG ulFreePrivateMemory;
	CK_VERSION hardwareVersion;
	CK_VERSION firmwareVersion;
	CK_BYTE utcTime[16];
} CK_TOKEN_INFO;

typedef struct {
	CK_ATTRIBUTE_TYPE type;
	void *pValue;
	CK_ULONG ulValueLen;
} CK_ATTRIBUTE;

typedef struct {
	CK_MECHANISM_TYPE mechanism;
	void *pParameter;
	CK_ULONG ulParameterLen;
} CK_MECHANISM;

typedef struct {
	void *CreateMutex;
	void *DestroyMutex;
	void *LockMutex;
	void *UnlockMutex;
	CK_FLAGS flags;
	void *pReserved;
} CK_C_INITIALIZE_ARGS;

/* Return values */
#define CKR_OK 0x000UL
#define CKR_ATTRIBUTE_TYPE_INVALID 0x012UL
#define CKR_ATTRIBUTE_SENSITIVE 0x011UL
#define CKR_PIN_INCORRECT 0x0A0UL
#define CKR_PIN_INVALID 0x0A1UL
#define CKR_PIN_LEN_RANGE 0x0A2UL
#define CKR_PIN_EXPIRED 0x0A3UL
#define CKR_PIN_LOCKED 0x0A4UL
#define CKR_TOKEN_NOT_PRESENT 0x0E0UL
#define CKR_USER_ALREADY_LOGGED_IN 0x100UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED 0x191UL
#define CKR_USER_NOT_LOGGED_IN 0x101UL
#define CKR_MECHANISM_INVALID 0x070UL
#define CKR_KEY_TYPE_INCONSISTENT 0x063UL
#define CKR_BUFFER_TOO_SMALL 0x150UL

/* Flags */
#define CKF_OS_LOCKING_OK 0x002UL
#define CKF_RW_SESSION 0x002UL
#define CKF_SERIAL_SESSION 0x004UL
#define CKF_TOKEN_INITIALIZED 0x400UL

#define CKU_USER 1UL

/* Object classes, key types, mechanisms */
#define CKO_CERTIFICATE 1UL
#define CKC_X_509 0UL
#define CKO_PUBLIC_KEY 2UL
#define CKO_PRIVATE_KEY 3UL
#define CKK_RSA 0x000UL
#define CKK_EC 0x003UL
#define CKK_EC_EDWARDS 0x040UL
#define CKM_RSA_PKCS_KEY_PAIR_GEN 0x0000UL
#define CKM_EC_KEY_PAIR_GEN 0x1040UL
#define CKM_EC_EDWARDS_KEY_PAIR_GEN 0x1055UL /* PKCS#11 3.0 */
#define CKM_EDDSA 0x1057UL                   /* PKCS#11 3.0 */

/* Attributes */
#define CKA_CLASS 0x000UL
#define CKA_TOKEN 0x001UL
#define CKA_PRIVATE 0x002UL
#define CKA_LABEL 0x003UL
#define CKA_VALUE 0x011UL
#define CKA_CERTIFICATE_TYPE 0x080UL
#define CKA_ISSUER 0x081UL
#define CKA_SERIAL_NUMBER 0x082UL
#define CKA_KEY_TYPE 0x100UL
#define CKA_SUBJECT 0x101UL
#define CKA_ID 0x102UL
#define CKA_SENSITIVE 0x103UL
#define CKA_ENCRYPT 0x104UL
#define CKA_DECRYPT 0x105UL
#define CKA_WRAP 0x106UL
#define CKA_UNWRAP 0x107UL
#define CKA_SIGN 0x108UL
#define CKA_VERIFY 0x10AUL
#define CKA_DERIVE 0x10CUL
#define CKA_EXTRACTABLE 0x162UL
#define CKA_NEVER_EXTRACTABLE 0x164UL
#define CKA_ALWAYS_SENSITIVE 0x165UL
#define CKA_MODULUS 0x120UL
#define CKA_MODULUS_BITS 0x121UL
#define CKA_PUBLIC_EXPONENT 0x122UL
#define CKA_EC_PARAMS 0x180UL
#define CKA_EC_POINT 0x181UL

typedef CK_RV (*CK_FN_ANY)(void);

struct CK_FUNCTION_LIST;
typedef struct CK_FUNCTION_LIST CK_FUNCTION_LIST;
typedef CK_RV (*CK_C_GetFunctionList)(CK_FUNCTION_LIST **);

struct CK_FUNCTION_LIST {
	CK_VERSION version;
	CK_RV (*C_Initialize)(void *pInitArgs);
	CK_RV (*C_Finalize)(void *pReserved);
	CK_FN_ANY C_GetInfo;
	CK_FN_ANY C_GetFunctionList;
	CK_RV (*C_GetSlotList)(CK_BBOOL tokenPresent, CK_SLOT_ID *pSlotList,
			       CK_ULONG *pulCount);
	CK_FN_ANY C_GetSlotInfo;
	CK_RV (*C_GetTokenInfo)(CK_SLOT_ID slotID, CK_TOKEN_INFO *pInfo);
	CK_FN_ANY C_GetMechanismList;
	CK_FN_ANY C_GetMechanismInfo;
	CK_FN_ANY C_InitToken;
	CK_FN_ANY C_InitPIN;
	CK_FN_ANY C_SetPIN;
	CK_RV (*C_OpenSession)(CK_SLOT_ID slotID, CK_FLAGS flags,
			       void *pApplication, void *Notify,
			       CK_SESSION_HANDLE *phSession);
	CK_RV (*C_CloseSession)(CK_SESSION_HANDLE hSession);
	CK_FN_ANY C_CloseAllSessions;
	CK_FN_ANY C_GetSessionInfo;
	CK_FN_ANY C_GetOperationState;
	CK_FN_ANY C_SetOperationState;
	CK_RV (*C_Login)(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
			 CK_BYTE *pPin, CK_ULONG ulPinLen);
	CK_FN_ANY C_Logout;
	CK_FN_ANY C_CreateObject;
	CK_FN_ANY C_CopyObject;
	CK_RV (*C_DestroyObject)(CK_SESSION_HANDLE hSession,
				 CK_OBJECT_HANDLE hObject);
	CK_FN_ANY C_GetObjectSize;
	CK_RV (*C_GetAttributeValue)(CK_SESSION_HANDLE hSession,
				     CK_OBJECT_HANDLE hObject,
				     CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount);
	CK_FN_ANY C_SetAttributeValue;
	CK_RV (*C_FindObjectsInit)(CK_SESSION_HANDLE hSession,
				   CK_ATTRIBUTE *pTemplate, CK_ULONG ulCount);
	CK_RV (*C_FindObjects)(CK_SESSION_HANDLE hSession,
			       CK_OBJECT_HANDLE *phObject,
			       CK_ULONG ulMaxObjectCount,
			       CK_ULONG *pulObjectCount);
	CK_RV (*C_FindObjectsFinal)(CK_SESSION_HANDLE hSession);
	CK_FN_ANY C_EncryptInit;
	CK_FN_ANY C_Encrypt;
	CK_FN_ANY C_EncryptUpdate;
	CK_FN_ANY C_EncryptFinal;
	CK_FN_ANY C_DecryptInit;
	CK_FN_ANY C_Decrypt;
	CK_FN_ANY C_DecryptUpdate;
	CK_FN_ANY C_DecryptFinal;
	CK_FN_ANY C_DigestInit;
	CK_FN_ANY C_Digest;
	CK_FN_ANY C_DigestUpdate;
	CK_FN_ANY C_DigestKey;
	CK_FN_ANY C_DigestFinal;
	CK_RV (*C_SignInit)(CK_SESSION_HANDLE hSession,
			    CK_MECHANISM *pMechanism, CK_OBJECT_HANDLE hKey);
	CK_RV (*C_Sign)(CK_SESSION_HANDLE hSession, CK_BYTE *pData,
			CK_ULONG ulDataLen, CK_BYTE *pSignature,
			CK_ULONG *pulSignatureLen);
	CK_FN_ANY C_SignUpdate;
	CK_FN_ANY C_SignFinal;
	CK_FN_ANY C_SignRecoverInit;
	CK_FN_ANY C_SignRecover;
	CK_FN_ANY C_VerifyInit;
	CK_FN_ANY C_Verify;
	CK_FN_ANY C_VerifyUpdate;
	CK_FN_ANY C_VerifyFinal;
	CK_FN_ANY C_VerifyRecoverInit;
	CK_FN_ANY C_VerifyRecover;
	CK_FN_ANY C_DigestEncryptUpdate;
	CK_FN_ANY C_DecryptDigestUpdate;
	CK_FN_ANY C_SignEncryptUpdate;
	CK_FN_ANY C_DecryptVerifyUpdate;
	CK_FN_ANY C_GenerateKey;
	CK_RV (*C_GenerateKeyPair)(CK_SESSION_HANDLE hSession,
				   CK_MECHANISM *pMechanism,
				   CK_ATTRIBUTE *pPublicKeyTemplate,
				   CK_ULONG ulPublicKeyAttributeCount,
				   CK_ATTRIBUTE *pPrivateKeyTemplate,
				   CK_ULONG ulPrivateKeyAttributeCount,
				   CK_OBJECT_HANDLE *phPublicKey,
				   CK_OBJECT_HANDLE *phPrivateKey);
	CK_FN_ANY C_WrapKey;
	CK_FN_ANY C_UnwrapKey;
	CK_FN_ANY C_DeriveKey;
	CK_FN_ANY C_SeedRandom;
	CK_FN_ANY C_GenerateRandom;
	CK_FN_ANY C_GetFunctionStatus;
	CK_FN_ANY C_CancelFunction;
	CK_FN_ANY C_WaitForSlotEvent;
};

#endif
